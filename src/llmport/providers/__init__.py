"""Built-in providers. Each module holds one provider class and its config class."""
