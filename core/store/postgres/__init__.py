"""The store on PostgreSQL: several replicas of Parley on one database."""
