"""Great Expectations suites that gate the training export."""
