// Numbers, bytes and days for people: thousands separators, KB/MB/GB, readable dates.

const locale = document.documentElement.lang || undefined;
const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

export function formatNumber(value) {
  return integer.format(value ?? 0);
}

export function formatSigned(value) {
  const number = value ?? 0;
  return `${number > 0 ? "+" : number < 0 ? "−" : "±"}${integer.format(Math.abs(number))}`;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(value) {
  let size = Math.abs(value ?? 0);
  let unit = 0;
  while (size >= 1000 && unit < UNITS.length - 1) {
    size /= 1000;
    unit += 1;
  }
  const text = unit === 0 ? integer.format(size) : decimal.format(size);
  return `${value < 0 ? "−" : ""}${text} ${UNITS[unit]}`;
}

export function formatSignedBytes(value) {
  const number = value ?? 0;
  return `${number > 0 ? "+" : number < 0 ? "" : "±"}${formatBytes(number)}`;
}

const dayFormat = new Intl.DateTimeFormat(locale, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });

export function formatDay(day) {
  return day ? dayFormat.format(new Date(`${day}T00:00:00Z`)) : "";
}

export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}
