// Data series of the API (category queries): lookups, sums and granularity buckets.

export function globalSeries(category, metric) {
  const list = category?.global?.[metric] ?? [];
  return list.length ? list[0].data : [];
}

export function sum(points) {
  return points.reduce((total, [, value]) => total + value, 0);
}

export function last(points) {
  return points.length ? points[points.length - 1][1] : 0;
}

// The bucket a day falls in: the day itself, its week's Monday, its month, its year.
export function bucketOf(day, granularity) {
  if (granularity === "week") {
    const date = new Date(`${day}T00:00:00Z`);
    const offset = (date.getUTCDay() + 6) % 7;
    date.setUTCDate(date.getUTCDate() - offset);
    return date.toISOString().slice(0, 10);
  }
  if (granularity === "month") return `${day.slice(0, 7)}-01`;
  if (granularity === "year") return `${day.slice(0, 4)}-01-01`;
  return day;
}

// Points grouped by bucket: deltas are summed, cumulative values keep the bucket's last.
export function bucketed(points, granularity, cumulative) {
  const buckets = new Map();
  for (const [day, value] of points) {
    const key = bucketOf(day, granularity);
    if (cumulative) buckets.set(key, value);
    else buckets.set(key, (buckets.get(key) ?? 0) + value);
  }
  return [...buckets.entries()];
}

// Per subcount item over the range: sums (deltas) or the last value (snapshots).
export function itemTotals(category, key, metric, cumulative) {
  const totals = new Map();
  for (const series of category?.[key]?.[metric] ?? []) {
    totals.set(series.id, {
      name: series.name,
      value: cumulative ? last(series.data) : sum(series.data),
    });
  }
  return totals;
}
