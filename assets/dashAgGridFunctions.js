// Value formatters for dash-ag-grid: the browser's copy of analysis/units.py, so a grid
// cell reads exactly as the same number does elsewhere on the pages (tests/test_formats_browser.py
// runs both on the same values).
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

function threeFigures(value) {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

// 410 ms, 2.85 s, 12 m 5 s, 3 h 48 m, 2 d 3 h; "" for a row that has not loaded yet
dagfuncs.humanDuration = function (seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "";
  seconds = Number(seconds);
  if (isNaN(seconds)) return "";
  if (seconds < 0) return "-" + dagfuncs.humanDuration(-seconds);
  if (seconds === 0) return "0 s";
  if (seconds < 1) return threeFigures(seconds * 1000) + " ms";
  if (seconds < 60) return threeFigures(seconds) + " s";
  var whole = Math.floor(seconds);
  if (whole < 3600) return Math.floor(whole / 60) + " m " + (whole % 60) + " s";
  if (whole < 86400) {
    return Math.floor(whole / 3600) + " h " + Math.floor((whole % 3600) / 60) + " m";
  }
  return Math.floor(whole / 86400) + " d " + Math.floor((whole % 86400) / 3600) + " h";
};

// a change of total time: "+3 h 48 m", "-410 ms", "0 s"
dagfuncs.signedDuration = function (seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "";
  seconds = Number(seconds);
  return (seconds > 0 ? "+" : "") + dagfuncs.humanDuration(seconds);
};

// stored UTC ISO text -> "2026-10-03 10:15:42" (the column header says UTC)
dagfuncs.utcTime = function (iso) {
  if (!iso) return "";
  return String(iso).replace("T", " ").replace("Z", "").split(".")[0].slice(0, 19);
};

// a stored status as people say it (the badge's title keeps the stored word, as the API has it)
var STATUS_LABELS = {
  started: "starting", in_progress: "running", completed: "completed", error: "failed",
  "completed with warnings": "completed with warnings",
};
window.statusLabel = function (value) {
  if (!value) return "";
  return STATUS_LABELS[value] || String(value).replace(/[_-]/g, " ");
};
