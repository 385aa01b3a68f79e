"""What runs a test case: oracle, client, executor, machine, campaign, shrinker, targets."""
