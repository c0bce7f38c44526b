"""Secret references and their resolution."""
