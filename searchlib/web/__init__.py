"""Static files of the search page served at ``/`` by ``searchlib.server``."""
