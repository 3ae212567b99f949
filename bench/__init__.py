"""Side-by-side benchmark of our emotion model against face-api, Human and the fer package (dev-only)."""
