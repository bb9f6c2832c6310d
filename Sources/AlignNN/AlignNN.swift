// Neural-network modules over AlignTensor.
