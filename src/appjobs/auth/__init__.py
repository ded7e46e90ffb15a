"""Communication management: users and their credentials (framework-free)."""
