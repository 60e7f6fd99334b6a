//! Volatility shift: two adjacent windows compared.
