"""`make bench`: what the hub costs and how it scales, measured on one machine in one run (issue 10)."""
