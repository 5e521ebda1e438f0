"""One module per rule. Each defines a `Rule` subclass; `ganlint.registry` lists them."""
