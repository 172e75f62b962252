"""`edzoo` commands for schools: plan."""
