"""Server-side pieces of the emotion detector page: it only serves files; every image stays in the browser."""
