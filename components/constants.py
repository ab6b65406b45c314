"""Names and colours shared by the pages, so a page and its test agree on them."""

APP_TITLE = "Slow Query Dashboard"
NAV_ORDER = ("Overview", "Instances", "Collection", "Digests", "Real-time", "Plans")
ENGINE_LABELS = {"mysql": "MySQL", "aurora-mysql": "Aurora MySQL", "mariadb": "MariaDB"}
