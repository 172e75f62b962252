"""`edzoo` commands for schools: bundle."""
