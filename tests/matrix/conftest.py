"""The apps are the environments' own code, run by their interpreters: never
collected by the project's pytest."""

collect_ignore_glob = ["apps/*"]
