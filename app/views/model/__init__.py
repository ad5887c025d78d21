"""The model in the GUI: its background controller and its panel."""
