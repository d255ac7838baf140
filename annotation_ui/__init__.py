"""Label Studio configuration and integration (annotation of mammograms)."""
