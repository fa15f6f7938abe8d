from targetsync_core.adapters.mongodb.adapter import MongoDatabase

__all__ = ["MongoDatabase"]
