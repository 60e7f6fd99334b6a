//! Level shift: two adjacent windows compared.
