// The cassette store arrives with issue 3.
