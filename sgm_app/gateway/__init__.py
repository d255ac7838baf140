"""The reading gateway: nginx in front of Label Studio, asking our access endpoint about every request."""
