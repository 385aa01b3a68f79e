"""RFC 862 echo: the model, the trio oracle, and the differential fuzzer."""
