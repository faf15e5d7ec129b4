import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A product of one tenant's catalogue (a row of the sample's SQLite database). */
@Entity({ name: 'product' })
export class Product {
  /** The tenant the row belongs to: invalidation rules read it (`tenantField`). */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  tenantId!: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'real' })
  price!: number;

  @UpdateDateColumn({ type: 'datetime' })
  updatedAt!: Date;
}
