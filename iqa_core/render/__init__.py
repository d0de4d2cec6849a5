"""Stage 5, render: what the app and reports show, from plain assessment data: HTML cards and tables, plotly charts, the region overlay."""
