"""Training for `objective=train`: models, device-resident data, the LightningModule."""
