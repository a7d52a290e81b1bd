"""Pure domain: the hub's vocabulary and rules. Imports only the stdlib."""
