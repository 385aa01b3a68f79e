"""The article's two servers, verbatim but for the port: specimens, bugs included."""
