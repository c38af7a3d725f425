// The statistics dashboard: controls, summary cards, time series, breakdowns, top records.
// Everything it shows comes from the REST API (one POST per view of the page).

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./dashboard.css";
import { formatBytes, formatDay, formatNumber, formatSigned, formatSignedBytes, isoDay } from "./format.js";
import { bucketed, globalSeries, itemTotals, last, sum } from "./series.js";

const root = document.getElementById("stats-dashboard");
const settings = JSON.parse(root.dataset.settings || "{}");
// what the page shows, for people's tools and the browser tests
const timing = (window.statsDashboard = {
  started: performance.now(),
  firstChartMs: null,
  loads: 0,
  charts: [],
  cards: {},
});

const BASES = {
  added: "Added: records count from the day they joined the community.",
  created: "Created: records count from the day they were created in the repository.",
  published: "Published: records count from their publication date (often years before).",
};
const PRESETS = {
  last30: "Last 30 days",
  thisYear: "This year",
  lastYear: "Last year",
  all: "All time",
  custom: "Custom",
};
const GRANULARITIES = { day: "Day", week: "Week", month: "Month", year: "Year" };
const BREAKDOWNS = [
  ["resourceTypes", "Resource types", "Resource type"],
  ["accessStatuses", "Access statuses", "Access status"],
  ["languages", "Languages", "Language"],
  ["subjects", "Subjects", "Subject"],
  ["rights", "Rights", "Rights"],
  ["funders", "Funders", "Funder"],
  ["affiliations", "Affiliations", "Affiliation"],
  ["publishers", "Publishers", "Publisher"],
  ["periodicals", "Periodicals", "Periodical"],
  ["fileTypes", "File types", "File type"],
  ["countries", "Countries", "Country"],
  ["referrers", "Referrers", "Referrer"],
];
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
const COLORS = ["#1f5f9e", "#b3391f", "#2e7d32", "#6a3d9a"];

const state = { preset: "thisYear", start: null, end: null, basis: "added", granularity: "month", data: null };

// --------------------------------------------------------------------------- DOM helpers
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "text") element.textContent = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${(uid += 1)}`;

// --------------------------------------------------------------------------- dates
function today() {
  return isoDay(new Date());
}

function clampStart(start, end) {
  const earliest = settings.earliest || "2000-01-01";
  const limit = new Date(`${end}T00:00:00Z`);
  limit.setUTCDate(limit.getUTCDate() - (settings.maxDays || 7320) + 1);
  const floor = isoDay(limit) > earliest ? isoDay(limit) : earliest;
  return start < floor ? floor : start;
}

function rangeOf(preset) {
  const end = today();
  const year = Number(end.slice(0, 4));
  if (preset === "last30") {
    const start = new Date(`${end}T00:00:00Z`);
    start.setUTCDate(start.getUTCDate() - 29);
    return [isoDay(start), end];
  }
  if (preset === "lastYear") return [`${year - 1}-01-01`, `${year - 1}-12-31`];
  if (preset === "all") return [clampStart(settings.earliest || "2000-01-01", end), end];
  if (preset === "custom") return [state.start || `${year}-01-01`, state.end || end];
  return [`${year}-01-01`, end];
}

// --------------------------------------------------------------------------- API
function csrfToken() {
  // Invenio's REST API checks a logged-in session's POSTs against its CSRF cookie
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : null;
}

async function post(body, accept = "application/json") {
  const headers = { "Content-Type": "application/json", Accept: accept };
  const token = csrfToken();
  if (token) headers["X-CSRFToken"] = token;
  const response = await fetch(settings.api, {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).message || message;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(message);
  }
  return response;
}

function queries() {
  const params = {
    community_id: settings.communityId,
    start_date: state.start,
    end_date: state.end,
    date_basis: state.basis,
  };
  const usage = { ...params, date_basis: "added" };
  return {
    recordDelta: { stat: "record-delta-category", params },
    recordSnapshot: { stat: "record-snapshot-category", params },
    usageDelta: { stat: "usage-delta-category", params: usage },
    usageSnapshot: { stat: "usage-snapshot-category", params: usage },
    topRecords: { stat: "top-records", params: usage },
  };
}

// --------------------------------------------------------------------------- layout
const status = h("p", { class: "sd-status", role: "status", "aria-live": "polite" });
const content = h("div", { class: "sd-content" });

function radioGroup(name, legend, options, current, onChange, help) {
  const fieldset = h("fieldset", { class: `sd-group sd-${name}` }, h("legend", { text: legend }));
  const row = h("div", { class: "sd-options" });
  for (const [value, label] of Object.entries(options)) {
    const id = nextId(name);
    row.append(
      h(
        "span",
        { class: "sd-option" },
        h("input", {
          type: "radio",
          id,
          name: `sd-${name}`,
          value,
          checked: value === current,
          onchange: () => onChange(value),
        }),
        h("label", { for: id, text: label })
      )
    );
  }
  fieldset.append(row);
  if (help) fieldset.append(help);
  return fieldset;
}

function controls() {
  const basisHelp = h("p", { class: "sd-help", id: nextId("basis-help"), text: BASES[state.basis] });
  const customId = nextId("custom");
  const startInput = h("input", { type: "date", id: `${customId}-start`, value: state.start });
  const endInput = h("input", { type: "date", id: `${customId}-end`, value: state.end });
  const custom = h(
    "div",
    { class: "sd-custom", hidden: state.preset !== "custom" },
    h("label", { for: startInput.id, text: "From" }),
    startInput,
    h("label", { for: endInput.id, text: "To" }),
    endInput,
    h("button", {
      type: "button",
      class: "sd-button",
      text: "Apply",
      onclick: () => {
        if (!startInput.value || !endInput.value || startInput.value > endInput.value) {
          status.textContent = "Choose a first day on or before the last day.";
          return;
        }
        state.start = startInput.value;
        state.end = endInput.value;
        load();
      },
    })
  );
  const range = h("div", { class: "sd-range" });
  const select = h(
    "select",
    {
      id: nextId("preset"),
      onchange: (event) => {
        state.preset = event.target.value;
        custom.hidden = state.preset !== "custom";
        if (state.preset !== "custom") {
          [state.start, state.end] = rangeOf(state.preset);
          load();
        }
      },
    },
    Object.entries(PRESETS).map(([value, label]) =>
      h("option", { value, selected: value === state.preset, text: label })
    )
  );
  range.append(h("label", { for: select.id, text: "Period" }), select, custom);
  const downloads = h(
    "div",
    { class: "sd-downloads" },
    h("button", { type: "button", class: "sd-button", text: "Download CSV", onclick: () => download("text/csv") }),
    h("button", {
      type: "button",
      class: "sd-button",
      text: "Download XLSX",
      onclick: () => download("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    })
  );
  return h(
    "section",
    { class: "sd-controls", "aria-label": "Statistics options" },
    range,
    radioGroup(
      "basis",
      "Count records by",
      { added: "Added", created: "Created", published: "Published" },
      state.basis,
      (value) => {
        state.basis = value;
        basisHelp.textContent = BASES[value];
        load();
      },
      basisHelp
    ),
    radioGroup("granularity", "Group by", GRANULARITIES, state.granularity, (value) => {
      state.granularity = value;
      render();
    }),
    downloads
  );
}

// --------------------------------------------------------------------------- pieces
function card(label, value, change) {
  timing.cards[label] = value;
  return h(
    "div",
    { class: "sd-card" },
    h("p", { class: "sd-card-label", text: label }),
    h("p", { class: "sd-card-value", text: value }),
    change ? h("p", { class: "sd-card-change", text: change }) : null
  );
}

function cards(data) {
  const rd = data.recordDelta;
  const rs = data.recordSnapshot;
  const ud = data.usageDelta;
  const us = data.usageSnapshot;
  const inRange = `${formatDay(state.start)} – ${formatDay(state.end)}`;
  return h(
    "section",
    { class: "sd-cards", "aria-label": "Summary" },
    card("Records", formatNumber(last(globalSeries(rs, "records"))), `${formatSigned(sum(globalSeries(rd, "records")))} in the period`),
    card("Files", formatNumber(last(globalSeries(rs, "fileCount"))), `${formatSigned(sum(globalSeries(rd, "fileCount")))} in the period`),
    card("Data volume", formatBytes(last(globalSeries(rs, "dataVolume"))), `${formatSignedBytes(sum(globalSeries(rd, "dataVolume")))} in the period`),
    card("Views", formatNumber(sum(globalSeries(ud, "views"))), `${formatNumber(last(globalSeries(us, "views")))} since the start`),
    card("Downloads", formatNumber(sum(globalSeries(ud, "downloads"))), `${formatNumber(last(globalSeries(us, "downloads")))} since the start`),
    card("Visitors", formatNumber(sum(globalSeries(ud, "viewVisitors"))), `visitor-days, ${inRange}`)
  );
}

function chart(title, lines, cumulative, formatter = formatNumber) {
  const figure = h("figure", { class: "sd-chart" }, h("figcaption", { text: title }));
  const bucketedLines = lines.map(([label, points]) => [label, bucketed(points, state.granularity, cumulative)]);
  const days = [...new Set(bucketedLines.flatMap(([, points]) => points.map(([day]) => day)))].sort();
  if (!days.length) {
    figure.append(h("p", { class: "sd-empty", text: "No data in this period." }));
    return figure;
  }
  timing.charts.push({ title, lines: Object.fromEntries(bucketedLines) });
  const summary = bucketedLines
    .map(([label, points]) => `${label}: ${formatter(cumulative ? last(points) : sum(points))}`)
    .join("; ");
  const holder = h("div", { class: "sd-plot", role: "img", "aria-label": `${title}. ${summary}.` });
  figure.append(holder);
  const xs = days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
  const ys = bucketedLines.map(([, points]) => {
    const values = new Map(points);
    return days.map((day) => values.get(day) ?? (cumulative ? null : 0));
  });
  requestAnimationFrame(() => {
    const width = Math.max(260, holder.clientWidth || 600);
    const options = {
      width,
      height: 220,
      scales: { x: { time: true } },
      axes: [
        {},
        {
          values: (_, ticks) => ticks.map((v) => formatter(v)),
          size: 70,
          incrs: formatter === formatNumber ? COUNT_STEPS : undefined,
        },
      ],
      series: [
        {},
        ...bucketedLines.map(([label], index) => ({
          label,
          stroke: COLORS[index % COLORS.length],
          width: 2,
          value: (_, v) => (v === null ? "–" : formatter(v)),
          paths: cumulative ? undefined : uPlot.paths.bars({ size: [0.6, 40], align: 0 }),
          fill: cumulative ? undefined : `${COLORS[index % COLORS.length]}cc`,
        })),
      ],
    };
    const plot = new uPlot(options, [xs, ...ys], holder);
    charts.push([plot, holder]);
    if (timing.firstChartMs === null) {
      timing.firstChartMs = performance.now() - timing.started;
    }
  });
  return figure;
}

function sortableTable(caption, columns, rows) {
  const table = h("table", { class: "sd-table" }, h("caption", { text: caption }));
  const head = h("tr");
  let order = { column: 1, descending: true };
  const body = h("tbody");
  const fill = () => {
    const sorted = [...rows].sort((a, b) => {
      const x = a[order.column].sort;
      const y = b[order.column].sort;
      const compared = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return order.descending ? -compared : compared;
    });
    body.replaceChildren(
      ...sorted.map((row) =>
        h("tr", {}, row.map((cell, index) => h(index === 0 ? "th" : "td", index === 0 ? { scope: "row" } : {}, cell.text)))
      )
    );
    head.querySelectorAll("th").forEach((th, index) => {
      th.setAttribute("aria-sort", index === order.column ? (order.descending ? "descending" : "ascending") : "none");
    });
  };
  columns.forEach((label, index) => {
    head.append(
      h(
        "th",
        { scope: "col" },
        h("button", {
          type: "button",
          class: "sd-sort",
          text: label,
          onclick: () => {
            order = { column: index, descending: order.column === index ? !order.descending : index !== 0 };
            fill();
          },
        })
      )
    );
  });
  table.append(h("thead", {}, head), body);
  fill();
  return h("div", { class: "sd-table-wrap" }, table);
}

function breakdowns(data) {
  const section = h("section", { class: "sd-breakdowns", "aria-labelledby": "sd-breakdowns-title" });
  section.append(h("h2", { id: "sd-breakdowns-title", text: "Breakdowns" }));
  const grid = h("div", { class: "sd-breakdown-grid" });
  for (const [key, label, singular] of BREAKDOWNS) {
    const records = itemTotals(data.recordSnapshot, key, "records", true);
    const files = itemTotals(data.recordSnapshot, key, "dataVolume", true);
    const views = itemTotals(data.usageDelta, key, "views", false);
    const downloads = itemTotals(data.usageDelta, key, "downloads", false);
    const ids = new Set([...records.keys(), ...views.keys(), ...downloads.keys()]);
    if (!ids.size) continue;
    const rows = [...ids].map((id) => {
      const name = records.get(id)?.name ?? views.get(id)?.name ?? downloads.get(id)?.name ?? id;
      const counts = [records.get(id)?.value ?? 0, files.get(id)?.value ?? 0, views.get(id)?.value ?? 0, downloads.get(id)?.value ?? 0];
      return [
        { text: name, sort: name },
        { text: formatNumber(counts[0]), sort: counts[0] },
        { text: formatBytes(counts[1]), sort: counts[1] },
        { text: formatNumber(counts[2]), sort: counts[2] },
        { text: formatNumber(counts[3]), sort: counts[3] },
      ];
    });
    grid.append(sortableTable(label, [singular, "Records", "Data volume", "Views", "Downloads"], rows));
  }
  if (!grid.children.length) section.append(h("p", { class: "sd-empty", text: "No breakdowns for this period." }));
  section.append(grid);
  return section;
}

function topRecords(data) {
  const section = h("section", { class: "sd-top", "aria-labelledby": "sd-top-title" });
  section.append(h("h2", { id: "sd-top-title", text: "Most viewed and downloaded records" }));
  const grid = h("div", { class: "sd-top-grid" });
  for (const [kind, title, metric] of [["by_view", "Most viewed", "views"], ["by_download", "Most downloaded", "downloads"]]) {
    const items = data.topRecords?.[kind] ?? [];
    const list = items.length
      ? h(
          "ol",
          { class: "sd-top-list" },
          items.map((item) =>
            h(
              "li",
              {},
              h("a", { href: `${settings.recordsUrl || "/records/"}${item.id}`, text: item.title }),
              h("span", { class: "sd-top-count", text: ` ${formatNumber(item[metric])} ${metric}` })
            )
          )
        )
      : h("p", { class: "sd-empty", text: `No ${metric} in this period.` });
    grid.append(h("div", {}, h("h3", { text: title }), list));
  }
  section.append(grid);
  return section;
}

// --------------------------------------------------------------------------- render
const charts = [];

function render() {
  charts.splice(0).forEach(([plot]) => plot.destroy());
  timing.charts = [];
  timing.cards = {};
  const data = state.data;
  if (!data) return;
  if (!settings.dataAsOf) {
    content.replaceChildren(
      h("p", { class: "sd-empty sd-empty-state", text: "The statistics have not been aggregated yet: they appear after the first aggregation run." })
    );
    return;
  }
  const records = globalSeries(data.recordSnapshot, "records");
  const views = globalSeries(data.usageDelta, "views");
  if (!records.length && !views.length) {
    content.replaceChildren(
      h("p", { class: "sd-empty sd-empty-state", text: "No records and no usage in this period yet." })
    );
    return;
  }
  const rd = data.recordDelta;
  const rs = data.recordSnapshot;
  const ud = data.usageDelta;
  content.replaceChildren(
    cards(data),
    h(
      "section",
      { class: "sd-charts", "aria-labelledby": "sd-charts-title" },
      h("h2", { id: "sd-charts-title", text: "Over time" }),
      h(
        "div",
        { class: "sd-chart-grid" },
        chart("Records added and removed", [["Added", globalSeries(rd, "recordsAdded")], ["Removed", globalSeries(rd, "recordsRemoved")]], false),
        chart("Files added and removed", [["Added", globalSeries(rd, "fileCountAdded")], ["Removed", globalSeries(rd, "fileCountRemoved")]], false),
        chart("Records and files in total", [["Records", globalSeries(rs, "records")], ["Files", globalSeries(rs, "fileCount")]], true),
        chart("Views and downloads", [["Views", globalSeries(ud, "views")], ["Downloads", globalSeries(ud, "downloads")]], false)
      )
    ),
    breakdowns(data),
    topRecords(data)
  );
}

async function load() {
  if (state.preset !== "custom") [state.start, state.end] = rangeOf(state.preset);
  status.textContent = "Loading statistics…";
  content.setAttribute("aria-busy", "true");
  try {
    const response = await post(queries());
    state.data = await response.json();
    timing.loads += 1;
    status.textContent = `${formatDay(state.start)} – ${formatDay(state.end)}, records counted by ${state.basis} date.`;
    render();
  } catch (error) {
    state.data = null;
    status.textContent = `The statistics could not be loaded: ${error.message}`;
    content.replaceChildren();
  } finally {
    content.removeAttribute("aria-busy");
  }
}

async function download(accept) {
  try {
    const response = await post(queries(), accept);
    const blob = await response.blob();
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] || "stats";
    const link = h("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    status.textContent = `The download failed: ${error.message}`;
  }
}

// --------------------------------------------------------------------------- start
[state.start, state.end] = rangeOf(state.preset);
root.replaceChildren(
  h(
    "header",
    { class: "sd-header" },
    h("h1", { text: settings.communityId === "global" ? "Statistics" : `${settings.title}: statistics` }),
    h("p", {
      class: "sd-as-of",
      text: settings.dataAsOf ? `Data as of ${formatDay(settings.dataAsOf)}` : "Not aggregated yet",
    })
  ),
  controls(),
  status,
  content
);
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [plot, holder] of charts) plot.setSize({ width: Math.max(260, holder.clientWidth), height: 220 });
  }, 150);
});
load();
