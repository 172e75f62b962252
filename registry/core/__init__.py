"""The pure core of edzoo: manifests, names, trust, offline verification. No network, no Flask,
no SQLAlchemy, no TensorFlow."""
