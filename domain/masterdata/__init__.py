"""Master data: companies, outlets, users, products, customers, stock, from and to CSV."""
