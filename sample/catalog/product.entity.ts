/** A product of one tenant's catalogue. */
export interface Product {
  id: string;
  name: string;
  price: number;
  updatedAt: Date;
}
