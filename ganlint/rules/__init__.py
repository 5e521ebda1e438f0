"""One module per check. Each defines a `Check` subclass; `ganlint.registry` finds them."""
