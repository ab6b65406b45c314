"""Charts that leave the dashboard: the catalogue, standalone HTML and embed pages, PNG."""
