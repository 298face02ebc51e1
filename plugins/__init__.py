"""The built-in plugins. Each is loaded through the ``gateway`` entry-point group like any other."""
