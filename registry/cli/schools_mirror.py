"""`edzoo` commands for schools: mirror."""
