"""Our AWS adapters: each implements a domain port with PynamoDB, boto3 or Powertools."""
