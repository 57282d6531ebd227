"""Reports people look at: offline HTML with inline SVG charts."""
