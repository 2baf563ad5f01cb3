// Type-checks a Grafana dashboard JSON against Grafana's own TypeScript schema (@grafana/schema), with the
// TypeScript compiler:
//
//   node grafana_dashboard_typecheck.js [--json] DASHBOARD.json...
//
// The dashboard becomes a TypeScript source held in memory: the dashboard object typed as the schema's
// `Dashboard` (panels, templating and annotations included), and every panel as its own constant typed by
// its panel type — `RowPanel` for rows, and for a visualization the schema's `Panel` whose `options` and
// `fieldConfig.defaults.custom` are that panel plugin's generated `Options` / `FieldConfig`
// (raw/composable/<plugin>/panelcfg). Object literals get TypeScript's excess-property check, so an option
// the plugin does not define fails, and so does a value of the wrong type.
//
// Two adaptations, both stated here because they are ours and not Grafana's:
//  - JSON carries an enum's value, not the enum: every string enum of the schema is read as the union of
//    its values (`${E}`), numeric enums as they are.
//  - @grafana/schema does not ship the Prometheus query's schema (it lives in the Prometheus data source
//    plugin), so a target is the schema's `DataQuery` plus the Prometheus fields listed in PromQuery below.
//
// Prints each error with the panel it is in (or, with --json, {"against", "panels": {file: n},
// "errors": {file: [...]}, "other"})
// and exits 1 when there is any.
'use strict';
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const PANEL_PLUGINS = {
  // panel type -> its generated types under @grafana/schema/dist/esm/raw/composable/
  timeseries: 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen',
  heatmap: 'heatmap/panelcfg/x/HeatmapPanelCfg_types.gen',
  bargauge: 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen',
  stat: 'stat/panelcfg/x/StatPanelCfg_types.gen',
  gauge: 'gauge/panelcfg/x/GaugePanelCfg_types.gen',
  table: 'table/panelcfg/x/TablePanelCfg_types.gen',
  text: 'text/panelcfg/x/TextPanelCfg_types.gen',
  piechart: 'piechart/panelcfg/x/PieChartPanelCfg_types.gen',
  barchart: 'barchart/panelcfg/x/BarChartPanelCfg_types.gen',
  histogram: 'histogram/panelcfg/x/HistogramPanelCfg_types.gen',
  logs: 'logs/panelcfg/x/LogsPanelCfg_types.gen',
  'state-timeline': 'statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen',
  'status-history': 'statushistory/panelcfg/x/StatusHistoryPanelCfg_types.gen',
};

function pluginDeclares(type, name) {
  const dts = require.resolve(`@grafana/schema/dist/esm/raw/composable/${PANEL_PLUGINS[type]}.d.ts`);
  return new RegExp(`export (interface|type) ${name}\\b`).test(fs.readFileSync(dts, 'utf8'));
}

function buildSource(file) {
  const dashboard = JSON.parse(fs.readFileSync(file, 'utf8'));
  const panels = [];
  for (const p of dashboard.panels || []) {
    panels.push(p);
    for (const inner of p.panels || []) panels.push(inner); // a collapsed row holds its panels
  }
  const used = [...new Set(panels.map((p) => p.type).filter((t) => t !== 'row'))];
  const unknown = used.filter((t) => !(t in PANEL_PLUGINS));
  if (unknown.length) throw new Error(`${file}: panel type(s) with no schema known to this check: ${unknown.join(', ')}`);

  const lines = [];
  const owner = []; // line number (0-based) -> what is declared there
  const emit = (text, what) => {
    for (const l of text.split('\n')) {
      lines.push(l);
      owner.push(what);
    }
  };
  emit(`import type * as schema from '@grafana/schema';`, 'imports');
  used.forEach((t, i) =>
    emit(`import type * as plugin${i} from '@grafana/schema/dist/esm/raw/composable/${PANEL_PLUGINS[t]}';`, 'imports'));
  emit(`
type Json<T> = T extends string ? (string extends T ? string : \`\${T}\`)
  : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<Json<U>>
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
type PromQuery = Json<schema.DataQuery> & {
  expr: string; legendFormat?: string; exemplar?: boolean; instant?: boolean; range?: boolean;
  format?: 'time_series' | 'table' | 'heatmap'; interval?: string; intervalFactor?: number;
  editorMode?: 'code' | 'builder'; hide?: boolean;
};
type VizPanel<T extends string, O, C> = Json<Omit<schema.Panel, 'type' | 'options' | 'fieldConfig' | 'targets'>> & {
  type: T;
  options: Json<O>;
  fieldConfig: Json<Omit<schema.FieldConfigSource, 'defaults'>> & {
    defaults: Json<Omit<schema.FieldConfig, 'custom'>> & { custom?: Json<C> };
  };
  targets: PromQuery[];
};
type Row = Json<Omit<schema.RowPanel, 'panels'>> & { panels: unknown[] };
`, 'type definitions');
  const top = { ...dashboard, panels: [] };
  emit(`const dashboard: Json<Omit<schema.Dashboard, 'panels'>> & { panels: unknown[] } = ${JSON.stringify(top, null, 2)};`,
    'the dashboard (outside panels)');
  panels.forEach((p, i) => {
    let type = 'Row';
    if (p.type !== 'row') {
      const n = used.indexOf(p.type);
      // A plugin without custom field options (stat, bargauge, ...) exports no FieldConfig: none allowed.
      const custom = pluginDeclares(p.type, 'FieldConfig') ? `plugin${n}.FieldConfig` : 'Record<string, never>';
      type = `VizPanel<'${p.type}', plugin${n}.Options, ${custom}>`;
    }
    emit(`const panel${i}: ${type} = ${JSON.stringify(p, null, 2)};`, `panel id=${p.id} "${p.title}" (${p.type})`);
  });
  emit(`export { dashboard, ${panels.map((_, i) => `panel${i}`).join(', ')} };`, 'exports');
  return { source: lines.join('\n'), lines, owner, panels: panels.length, types: used };
}

function main() {
  const args = process.argv.slice(2);
  const json = args[0] === '--json';
  const files = json ? args.slice(1) : args;
  if (!files.length) {
    console.error('usage: node grafana_dashboard_typecheck.js [--json] DASHBOARD.json...');
    process.exit(2);
  }
  // One program for every file given (type-checking the schema once is most of the cost): each dashboard
  // is its own in-memory module beside this script, so '@grafana/schema' resolves to tests/node/node_modules.
  const virtual = new Map();
  files.forEach((f, i) => virtual.set(path.join(__dirname, `__dashboard_check_${process.pid}_${i}.ts`), { file: f, ...buildSource(f) }));
  const options = {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10, skipLibCheck: true, types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    virtual.has(name) ? ts.createSourceFile(name, virtual.get(name).source, lang) : getSourceFile(name, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => virtual.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (virtual.has(name) ? virtual.get(name).source : readFile(name));
  const program = ts.createProgram([...virtual.keys()], options, host);

  const report = Object.fromEntries(files.map((f) => [f, []]));
  const other = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    const v = d.file && virtual.get(d.file.fileName);
    if (v) {
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      report[v.file].push(`${v.owner[line]}: ${v.lines[line].trim()}\n  ${message}`);
    } else {
      other.push(`${d.file ? d.file.fileName : 'typescript'}: ${message}`);
    }
  }
  const version = require('@grafana/schema/package.json').version;
  const against = `@grafana/schema ${version}, TypeScript ${ts.version}`;
  if (json) {
    const panels = Object.fromEntries([...virtual.values()].map((v) => [v.file, v.panels]));
    console.log(JSON.stringify({ against, panels, errors: report, other }));
  } else {
    for (const [f, errs] of Object.entries(report)) {
      const v = [...virtual.values()].find((x) => x.file === f);
      for (const e of errs) console.log(`${f}: ${e}`);
      if (!errs.length) console.log(`ok: ${f}: the dashboard and its ${v.panels} panels (${v.types.join(', ')}, row) type-check against ${against}`);
    }
    for (const e of other) console.log(e);
  }
  process.exit(other.length || Object.values(report).some((e) => e.length) ? 1 : 0);
}

main();
