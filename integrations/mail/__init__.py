"""Mail transports and the message format they share."""
