// Cell renderers for dash-ag-grid: tag chips and target/status badges (Bootstrap classes).
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

dagcomponentfuncs.TagChips = function (props) {
  var tags = (props.data && props.data.tags) || {};
  var chips = Object.keys(tags).sort().map(function (key) {
    return React.createElement(
      "span",
      { key: key, className: "badge rounded-pill text-bg-light border me-1 tag-chip" },
      key + "=" + tags[key]
    );
  });
  return React.createElement("span", null, chips);
};

dagcomponentfuncs.TargetBadge = function (props) {
  if (!props.value) {
    return React.createElement("span", { className: "text-muted" }, "—");
  }
  return React.createElement(
    "span",
    { className: "badge text-bg-" + (props.color || "primary") + " target-badge" },
    props.label || "yes"
  );
};

dagcomponentfuncs.StatusBadge = function (props) {
  var value = props.value || "";
  var colors = {
    available: "success", configured: "success", completed: "success",
    gone: "secondary", error: "danger", started: "primary", in_progress: "primary",
    "completed with warnings": "warning",
  };
  var color = colors[value] || "warning";
  var label = window.statusLabel ? window.statusLabel(value) : value;
  return React.createElement("span", { className: "badge text-bg-" + color, title: value },
                             label);
};
