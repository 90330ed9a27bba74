"""The platform importers on the Imports page (members/imports.py), registered when the app
is ready, in the order of the page's tabs."""
