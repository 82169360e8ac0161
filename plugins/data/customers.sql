-- The customer table the customers plugin creates on first use (plugins/customers.py).
CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    tier         TEXT NOT NULL CHECK (tier IN ('standard', 'gold', 'platinum')),
    open_tickets INTEGER NOT NULL DEFAULT 0 CHECK (open_tickets >= 0),
    notes        TEXT NOT NULL DEFAULT ''
);

INSERT INTO customers (id, name, email, tier, open_tickets, notes) VALUES
    ('C-4821', 'Anna Weber', 'anna@example.com', 'gold', 1, 'Prefers invoices as PDF.'),
    ('7781', 'Raj Patel', 'raj@example.com', 'platinum', 2, 'Reported logout issues before.'),
    ('B-310', 'Ben Ode', 'ben@ode.org', 'standard', 0, ''),
    ('C-5001', 'Kim Lee', 'kim@example.net', 'standard', 0, 'Long-time customer.');
