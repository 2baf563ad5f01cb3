#!/bin/sh
# Installs tgpulse's log storage into a running Elastic stack: the ILM policy, the index template of the
# logs-tgpulse-* data streams, and the Kibana saved objects (data view, saved searches, dashboard).
# Idempotent. Run by the `elk-setup` service of deploy/docker/docker-compose.yml, or by hand:
#   ELASTICSEARCH_URL=http://127.0.0.1:9200 KIBANA_URL=http://127.0.0.1:5601 sh deploy/elk/setup.sh
# With security enabled, set ELASTIC_AUTH=user:password.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
es="${ELASTICSEARCH_URL:-http://elasticsearch:9200}"
kibana="${KIBANA_URL:-http://kibana:5601}"
auth="${ELASTIC_AUTH:+--user ${ELASTIC_AUTH}}"

wait_for() {
  i=0
  until curl -fsS $auth -o /dev/null "$1"; do
    i=$((i + 1))
    if [ "$i" -ge 120 ]; then echo "setup: $1 did not answer in 10 minutes" >&2; exit 1; fi
    sleep 5
  done
}

wait_for "$es/_cluster/health?wait_for_status=yellow&timeout=5s"
curl -fsS $auth -X PUT "$es/_ilm/policy/tgpulse-logs" -H 'Content-Type: application/json' \
  --data-binary "@$here/elasticsearch/ilm-policy.json"
echo
curl -fsS $auth -X PUT "$es/_index_template/tgpulse-logs" -H 'Content-Type: application/json' \
  --data-binary "@$here/elasticsearch/index-template.json"
echo

wait_for "$kibana/api/status"
curl -fsS $auth -X POST "$kibana/api/saved_objects/_import?overwrite=true" -H 'kbn-xsrf: tgpulse-setup' \
  --form "file=@$here/kibana/saved-objects.ndjson"
echo
echo "setup: ILM policy, index template and Kibana objects installed"
