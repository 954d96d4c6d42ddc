"""Relational data on Aurora MySQL (MariaDB locally): connections, transactions and migrations."""
