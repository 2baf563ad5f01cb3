"""Scale-out acceptance for the tenant's updates: three nodes on one PostgreSQL, one tenant with sessions
on every node (QR logins are placed on the least loaded node), tdsim messages injected on each node's
simulator (POST /incoming on its control port reaches the sessions that node owns).

- A long poll through node 1 receives the messages of sessions owned by nodes 2 and 3 within a couple of
  seconds (every node re-reads the shared log each second; no wait for the poll's deadline).
- A webhook set through node 1 is delivered by exactly one node (tgpulse_webhook_requests_total grows on
  one node only), GET /v1/webhook answers through every node, and with all three nodes up every message
  arrives once: no duplicate in steady state. When the delivering node leaves (SIGTERM), one survivor
  takes the webhook over."""
import json
import threading
import time

import cluster_util
import harness
from test_updates_webhook import Receiver, SECRET

CONFIG = """
cluster:
  lease_ttl: 6s
  renew_interval: 1s
  fence_margin: 2s
  claim_interval: 500ms
updates:
  webhook_allow_private: true
  webhook_timeout: 2s
"""
SESSIONS = 6
# What "a couple of seconds" allows: the recheck (1 s), the writer's group commit, tdsim's latency and a
# loaded machine.
PROMPT = 3.0


def poll(node, auth, offset, timeout=0):
    status, _, doc = harness.http_json("GET", f"{node.url}/v1/updates?offset={offset}&timeout={timeout}",
                                       headers=auth, timeout=timeout + 10)
    harness.check(status == 200, f"GET /v1/updates through {node.node_id}: {status} {doc}")
    return doc["updates"]


def incoming(node, count, text):
    status, _, doc = harness.http_json("POST", f"http://127.0.0.1:{node.control_port}/incoming",
                                       {"count": count, "text": text})
    harness.check(status == 200, f"POST /incoming on {node.node_id}'s simulator: {status} {doc}")


def messages(updates):
    return [u for u in updates if u["update"]["@type"] == "updateNewMessage"]


def test_long_poll_and_webhook_across_nodes():
    with cluster_util.Cluster(3, config=CONFIG, extra_env={"TGPULSE_THROTTLE_ENABLED": "false"}) as c:
        auth = c.tenant("acme")
        sids = c.authorized_sessions(auth, SESSIONS)
        owners = c.owners()
        by_node = {n.node_id: [s for s in sids if owners.get(s) == n.node_id] for n in c.nodes}
        print(f"sessions by node: { {k: len(v) for k, v in by_node.items()} }", flush=True)
        harness.check(all(by_node.values()), f"a node owns none of the tenant's sessions: {by_node}")
        entry = c.nodes[0]

        # Everything so far (the logins' events, written by each owner) is readable through node 1.
        def all_logins():
            got = poll(entry, auth, 0)
            return got if sum(u["update"]["@type"] == "tgpulseSessionAuthorized" for u in got) >= SESSIONS else None
        got = harness.wait_until(all_logins, timeout=20, what="every login's event through node 1")
        offset = got[-1]["update_id"] + 1

        # --- a long poll through node 1 answers with what nodes 2 and 3 wrote, within a couple of seconds ---
        for writer in c.nodes[1:]:
            answer = {}

            def waiting(offset=offset, answer=answer):
                answer["updates"] = poll(entry, auth, offset, timeout=25)
                answer["at"] = time.monotonic()
            reader = threading.Thread(target=waiting)
            reader.start()
            time.sleep(1.5)  # the poll is waiting (it found nothing new)
            sent_at = time.monotonic()
            incoming(writer, 1, f"to {writer.node_id}")
            reader.join(timeout=30)
            harness.check("updates" in answer, f"the long poll through node 1 never answered ({writer.node_id})")
            took = answer["at"] - sent_at
            found = messages(answer["updates"])
            print(f"long poll through {entry.node_id}: {writer.node_id}'s message after {took:.2f}s", flush=True)
            harness.check(found and all(u["session_id"] in by_node[writer.node_id] for u in found),
                          f"the long poll answered with {answer['updates']}, not {writer.node_id}'s message")
            harness.check(took <= PROMPT, f"{writer.node_id}'s message reached node 1's long poll after {took:.1f}s")
            # The rest of this round (every session of the writer got one), then acknowledge it all.
            def round_done(offset=offset, writer=writer):
                got = messages(poll(entry, auth, offset))
                return len(got) >= len(by_node[writer.node_id]) and got
            last = harness.wait_until(round_done, timeout=20, what=f"{writer.node_id}'s messages")
            offset = last[-1]["update_id"] + 1
        poll(entry, auth, offset)  # acknowledges what was read: the webhook starts on an empty log

        # --- a webhook: one node delivers, every message once ---
        with Receiver() as receiver:
            status, _, doc = harness.http_json("PUT", f"{entry.url}/v1/webhook",
                                               {"url": receiver.url, "secret": SECRET}, auth)
            harness.check(status == 200, f"PUT /v1/webhook through node 1: {status} {doc}")
            for n in c.nodes:
                harness.wait_until(lambda n=n: harness.http_json("GET", f"{n.url}/v1/webhook", headers=auth)[0] == 200,
                                   timeout=10, what=f"GET /v1/webhook through {n.node_id}")
                # Webhook mode on every node within the refresh: long polling answers 409 there too.
                harness.wait_until(lambda n=n: harness.http_json("GET", f"{n.url}/v1/updates", headers=auth)[0] == 409,
                                   timeout=10, what=f"long polling through {n.node_id} refused for the webhook")
            # Rounds apart, so the webhook gets several POSTs (a round fits one batch).
            per_round, rounds = 2, 3
            expected = 0
            for r in range(rounds):
                for n in c.nodes:
                    incoming(n, per_round, f"hook {r} via {n.node_id}")
                expected += per_round * SESSIONS
                harness.wait_until(lambda expected=expected: len(receiver.accepted()) >= expected, timeout=30,
                                   what=f"{expected} messages at the webhook")
            time.sleep(3)  # anything a second node would send meanwhile
            got = receiver.accepted()
            ids = [u["update_id"] for u in got]
            harness.check(len(ids) == expected and len(set(ids)) == expected,
                          f"each message once: {len(ids)} arrived, {len(set(ids))} distinct, {expected} sent")
            harness.check(all(verified for _, verified, _ in receiver.snapshot()), "every POST signed")
            posting = {n.node_id: n.metric("tgpulse_webhook_requests_total") for n in c.nodes}
            print(f"webhook POSTs by node: {posting}", flush=True)
            harness.check(sum(1 for v in posting.values() if v > 0) == 1,
                          f"the tenant's webhook was delivered by more than one node: {posting}")

            # --- the delivering node leaves (SIGTERM): a survivor takes the webhook over ---
            deliverer = next(n for n in c.nodes if posting[n.node_id] > 0)
            deliverer.stop()
            survivors = [n for n in c.nodes if n is not deliverer]
            for n in survivors:
                incoming(n, 1, f"after {deliverer.node_id} left")
            harness.wait_until(lambda: any(f"after {deliverer.node_id} left" in json.dumps(u["update"])
                                           for u in receiver.accepted()),
                               timeout=30, what="a message sent after the delivering node left")
            took_over = [n.node_id for n in survivors if n.metric("tgpulse_webhook_requests_total") > 0]
            print(f"{deliverer.node_id} left; the webhook is delivered by {took_over}", flush=True)
            harness.check(len(took_over) == 1, f"after {deliverer.node_id} left, delivered by {took_over}")


if __name__ == "__main__":
    harness.main([test_long_poll_and_webhook_across_nodes])
