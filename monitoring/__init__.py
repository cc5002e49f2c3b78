"""The platform's state for its operators: the figures (selectors), /metrics, and the instruments of the site."""
