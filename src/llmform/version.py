"""llmform's version, apart from the package's ``__init__`` so that any module (a plan records
the version that made it) can name it without importing the public API that imports them."""

__version__ = "0.1.0"
