"""The DICOM network interface: a storage receiver (SCP) and a query/retrieve client (SCU)."""
