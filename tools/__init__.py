"""Developer tools: the local hub (make run), its runner, sample senders. Not shipped to Lambda."""
