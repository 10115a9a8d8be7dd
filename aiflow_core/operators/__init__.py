"""Built-in operators: bash commands and Python callables."""
